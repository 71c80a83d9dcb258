# syntax=docker/dockerfile:1
# Build: compile TypeScript with dev dependencies.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
COPY bench ./bench
COPY test ./test
RUN npm ci --no-audit --no-fund

# The demo IdP and app of docker-compose.yml (oidc-provider is a dev dependency).
FROM node:24-slim AS demo
WORKDIR /demo
COPY --from=build /app/node_modules ./node_modules
COPY demo/idp.mjs demo/app.mjs ./
USER node

# Run: production dependencies only, no compiler, not root.
FROM build AS prune
RUN npm prune --omit=dev

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prune /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY bin ./bin
COPY schema ./schema
COPY policies ./policies
# A place the non-root user may write: the audit trail of `audit.sink: file` and the signing
# key generated beside it (audit.path /var/lib/verdict/audit.jsonl). Mount a volume there so
# the trail outlives the container (a named volume starts with this owner); the rest of the
# image is not writable by it.
RUN mkdir -p /var/lib/verdict && chown node:node /var/lib/verdict
USER node
EXPOSE 9191 9292
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9292/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/verdict.js"]
# One CPU for the container: keep the default (one process). More CPUs: add "--workers", "auto"
# (or the count of the CPU limit) and use the Redis session store; see docs/workers.md.
CMD ["serve"]
