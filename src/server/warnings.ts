// Warning headers with a configured probability: `--warning 0.25:"message"` adds
// `Warning: 299 - "message"` to about a quarter of all responses.
import type { NextFunction, Request, Response } from 'express';
import { UsageError } from '../cli-error.js';

export interface WarningRule {
  probability: number;
  message: string;
}

/** Parses `<probability>:<message>`, probability in [0, 1]. */
export function parseWarningRule(text: string): WarningRule {
  const colon = text.indexOf(':');
  const probabilityText = colon < 0 ? '' : text.slice(0, colon);
  const probability = Number(probabilityText);
  let message = colon < 0 ? '' : text.slice(colon + 1);
  if (message.length >= 2 && message.startsWith('"') && message.endsWith('"')) message = message.slice(1, -1);
  if (!/^\d*\.?\d+$/.test(probabilityText) || probability > 1) {
    throw new UsageError(`--warning "${text}": expected <probability 0..1>:<message>, e.g. 0.25:"slow down"`);
  }
  if (!message || /["\\\r\n]/.test(message)) {
    throw new UsageError(`--warning "${text}": the message must be non-empty, without quotes, backslashes or newlines`);
  }
  return { probability, message };
}

export function warningHeaders(rules: readonly WarningRule[], random: () => number) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    for (const rule of rules) {
      if (random() < rule.probability) res.appendHeader('Warning', `299 - "${rule.message}"`);
    }
    next();
  };
}
