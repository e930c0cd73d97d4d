// The control plane, /_broken/..., off the /v2/ namespace so no registry name can reach it:
//   GET    /_broken/journal?since=&repository=&operation=&status=&limit=   the journal as JSON
//   GET    /_broken/journal/stream                                          new entries as server-sent events
//   DELETE /_broken/journal                                                 forget every entry
//   POST   /_broken/rules          {match, rules[, decorator]}              add a run-time rule (201, the rule)
//   GET    /_broken/rules                                                   the rules, oldest first
//   DELETE /_broken/rules/<id>                                              remove one (404 when unknown)
//   POST   /_broken/reset                                                   counts and journal start again
// Bad requests get a 400 saying what is wrong, in the OCI error envelope the registry uses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../oci/errors.js';
import { pathOf, queryOf, readBody } from '../http/request.js';
import { jsonPlan, type ResponsePlan } from '../http/response.js';
import { operationMatches, type Journal, type JournalFilter } from '../journal/journal.js';
import { MAX_GLOB_LENGTH } from '../journal/glob.js';
import { OPERATIONS, RuleError, type RuleSet } from './rules.js';
import { checkAdmin, type AdminAccess } from './guard.js';
import { journalStreams } from './stream.js';

export const CONTROL_PREFIX = '/_broken';
const MAX_RULE_BODY = 64 * 1024;
const NO_CONTENT: ResponsePlan = { status: 204, headers: {} };

export function isControlPath(url: string): boolean {
  return url === CONTROL_PREFIX || url.startsWith(`${CONTROL_PREFIX}/`) || url.startsWith(`${CONTROL_PREFIX}?`);
}

export interface ControlParts {
  journal: Journal;
  rules: RuleSet;
  /** Starts every count (rules, decorators) and the journal again. */
  reset(): void;
  access: AdminAccess;
}

export interface ControlPlane {
  /** Answers a request under /_broken/, or throws the RegistryError to answer with. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends the open journal streams. */
  close(): void;
}

export function createControlPlane({ journal, rules, reset, access }: ControlParts): ControlPlane {
  const streams = journalStreams(journal);
  return {
    close: () => streams.closeAll(),
    async handle(req, res) {
      checkAdmin(req, access);
      const url = req.url ?? '/';
      const path = pathOf(url);
      const method = req.method ?? 'GET';
      const send = (plan: ResponsePlan) => answer(res, plan);
      const only = (allowed: string[]) => {
        if (!allowed.includes(method)) {
          throw new RegistryError('UNSUPPORTED', `${method} is not supported on ${path}; allowed: ${allowed.join(', ')}`, { headers: { Allow: allowed.join(', ') } });
        }
      };
      if (path === `${CONTROL_PREFIX}/journal`) {
        only(['GET', 'DELETE']);
        if (method === 'DELETE') {
          journal.clear();
          return send(NO_CONTENT);
        }
        const filter = journalFilter(queryOf(url), journal.size);
        return send(jsonPlan(200, { last: journal.last, size: journal.size, entries: journal.entries(filter) }));
      }
      if (path === `${CONTROL_PREFIX}/journal/stream`) {
        only(['GET']);
        const { limit: _limit, ...filter } = journalFilter(queryOf(url), journal.size);
        streams.open(req, res, filter);
        return;
      }
      if (path === `${CONTROL_PREFIX}/rules`) {
        only(['GET', 'POST']);
        if (method === 'GET') return send(jsonPlan(200, { rules: rules.list() }));
        const body = await readBody(req, req.headers['content-length'], MAX_RULE_BODY, 'a rule');
        let input: unknown;
        try {
          input = JSON.parse(body.toString('utf8'));
        } catch {
          throw badRequest('the body must be JSON: {"match": {"repository": "<glob>"}, "rules": "<rules>"}');
        }
        try {
          return send(jsonPlan(201, rules.add(input)));
        } catch (error) {
          if (error instanceof RuleError) throw badRequest(error.message);
          throw error;
        }
      }
      const rule = new RegExp(`^${CONTROL_PREFIX}/rules/([^/]+)$`).exec(path);
      if (rule) {
        only(['DELETE']);
        const id = rule[1] as string;
        if (!/^\d{1,9}$/.test(id) || !rules.remove(Number(id))) throw new RegistryError('NOT_FOUND', `no rule with id ${id.slice(0, 40)}`, { detail: { id: id.slice(0, 40) } });
        return send(NO_CONTENT);
      }
      if (path === `${CONTROL_PREFIX}/reset`) {
        only(['POST']);
        reset();
        return send(NO_CONTENT);
      }
      throw new RegistryError('NOT_FOUND', `no control endpoint ${method} ${path.slice(0, 200)}; see ${CONTROL_PREFIX}/journal, ${CONTROL_PREFIX}/rules, ${CONTROL_PREFIX}/reset`);
    },
  };
}

/** The control plane's answers are small JSON documents or nothing. */
function answer(res: ServerResponse, plan: ResponsePlan): void {
  res.writeHead(plan.status, plan.headers);
  res.end(plan.body?.kind === 'bytes' ? plan.body.bytes : undefined);
}

function badRequest(message: string): RegistryError {
  return new RegistryError('BAD_REQUEST', message);
}

/** The journal filter a query asks for, refusing (400) any parameter that is not one. */
export function journalFilter(query: URLSearchParams, size: number): JournalFilter {
  const known = ['since', 'repository', 'operation', 'status', 'limit'];
  for (const key of query.keys()) {
    if (!known.includes(key)) throw badRequest(`unknown journal parameter "${key.slice(0, 40)}"; known: ${known.join(', ')}`);
  }
  const filter: JournalFilter = {};
  const since = query.get('since');
  if (since !== null) filter.since = whole(since, 'since', 0, Number.MAX_SAFE_INTEGER);
  const limit = query.get('limit');
  if (limit !== null) filter.limit = whole(limit, 'limit', 1, Math.max(1, size));
  const repository = query.get('repository');
  if (repository !== null) {
    if (repository === '' || repository.length > MAX_GLOB_LENGTH) throw badRequest(`repository must be a glob of 1 to ${MAX_GLOB_LENGTH} characters`);
    filter.repository = repository;
  }
  const operation = query.get('operation');
  if (operation !== null) {
    if (!/^[a-z]+(\.[a-z]+)?$/.test(operation) || !OPERATIONS.some((op) => operationMatches(operation, op))) {
      throw badRequest(`operation "${operation.slice(0, 40)}" is not an operation or family; e.g. manifest.get, blob, upload`);
    }
    filter.operation = operation;
  }
  const status = query.get('status');
  if (status !== null) {
    if (!/^([1-5]xx|[1-5]\d\d)$/i.test(status)) throw badRequest(`status must be a status such as 503 or a class such as 5xx, got "${status.slice(0, 40)}"`);
    filter.status = status;
  }
  return filter;
}

function whole(text: string, name: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(text) || Number(text) < min || Number(text) > max) throw badRequest(`${name} must be a whole number from ${min} to ${max}, got "${text.slice(0, 40)}"`);
  return Number(text);
}
