// Real registry clients for e2e tests: skopeo, podman, docker (with a private dockerd) and ctr (with
// a private containerd), each run
// with a hard timeout, a clean environment and private config and storage in a temp dir, so a test
// touches nothing of the user's and leaves no process behind.
// The modules are run.ts, containers.ts, dockerd.ts and containerd.ts; this file gathers them for the tests.
export * from './run.js';
export * from './containers.js';
export * from './dockerd.js';
export * from './containerd.js';
