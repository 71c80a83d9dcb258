# syntax=docker/dockerfile:1
# Build: compile TypeScript with dev dependencies, then keep production ones only.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
COPY bench ./bench
COPY test ./test
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

# Run: no compiler, no dev dependencies, not root.
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY bin ./bin
COPY schema ./schema
COPY policies ./policies
USER node
EXPOSE 9191 9292
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9292/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/verdict.js"]
CMD ["serve"]
