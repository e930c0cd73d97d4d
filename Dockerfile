# broken-reg container image.
#
#   docker build -t broken-reg .
#   docker run -d -p 5000:5000 -v broken-reg-data:/data broken-reg
#
# The base is a build argument so a mirror or a pinned digest can be used:
#   docker build --build-arg NODE_IMAGE=registry.example/node:20-bookworm-slim .
# The build stage runs `npm ci`, so it needs the npm registry (or an npm cache and
# npm_config_offline=true in NODE_IMAGE, as the offline test in test/e2e/container.test.ts does).
# Works with BuildKit and with the classic builder: no BuildKit-only syntax. The runtime stage runs
# nothing at build time, so its base needs only `node` on PATH.
ARG NODE_IMAGE=node:20-bookworm-slim
# The runtime stage's base: any image with `node` (20.18+) on PATH.
ARG RUNTIME_IMAGE=${NODE_IMAGE}

# ---- build: install, compile, drop dev dependencies -------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so editing the sources does not reinstall them. No scripts yet: `prepare`
# (the build) needs the sources.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# The rest of the context: .dockerignore lets in only tsconfig.json, bin/ and src/ besides.
COPY . ./
# Build, keep production dependencies only, and lay out exactly what the runtime gets in /out.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && mkdir -p /out/app/dist /out/data \
 && cp -R package.json bin node_modules /out/app/ \
 && cp -R dist/src /out/app/dist/src

# ---- runtime: the node binary, the app, nothing else of ours --------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.title="broken-reg" \
      org.opencontainers.image.description="A container image registry for testing: speaks the OCI distribution API and misbehaves on demand." \
      org.opencontainers.image.licenses="MIT"
# The app is owned by root and read-only to the user that runs it; only the store is writable.
COPY --from=build /out/app /app
COPY --from=build --chown=10001:10001 /out/data /data
ENV NODE_ENV=production \
    BIND_HOST=0.0.0.0 \
    BIND_PORT=5000 \
    BLOB_DIR=/data
VOLUME /data
EXPOSE 5000
# Numeric, so Kubernetes' runAsNonRoot can verify it without a passwd entry.
USER 10001:10001
# Exec form, node only (no shell or curl in the image). It asks GET /v2/ on 127.0.0.1 at BIND_PORT,
# over HTTPS when CERT_FILE is set (the certificate is not checked: any name, self-signed).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const e=process.env;require(e.CERT_FILE?'https':'http').get({host:'127.0.0.1',port:e.BIND_PORT||5000,path:'/v2/',rejectUnauthorized:false,timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/broken-reg.js"]
CMD ["serve"]
