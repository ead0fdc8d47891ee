# The service's container image: builds with the dev toolchain, ships only dist/ and the production dependencies, runs as the non-root `node` user.

# ---- build: compile TypeScript and better-sqlite3 (native), then drop the dev dependencies
# The Node version is exact, and the one CI runs the whole suite on (the first of .ci/node-versions; a test checks).
FROM node:24.22.3-trixie-slim AS build
# better-sqlite3 builds from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY db ./db
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: no compiler, no dev dependencies, no sources
FROM node:24.22.3-trixie-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_URL=sqlite:/data/offline-messages.db \
    MALLOC_ARENA_MAX=2
# HOST=0.0.0.0 with API_KEYS empty would mean an open service on the network, so the service refuses to start
# without API_KEYS (it says why and exits non-zero). That is intended: pass -e API_KEYS=name:secret:scope+scope.
WORKDIR /app
# The application files stay owned by root (read-only to the service); only /data is writable by it.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 3000
# Slim images have no curl: node itself asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself, and closes with grace (no npm, no shell in between). The node
# flags and MALLOC_ARENA_MAX (ENV above) are npm start's (test/dockerfile.test.ts): V8's young generation capped at
# 8 MB a semi-space, its collector exposed so that the memory of a burst of held requests is given back once it
# ends (src/plugins/memory-reducer.ts), and two malloc arenas; see docs/operations.md#many-held-requests-long-poll.
CMD ["node", "--max-semi-space-size=8", "--expose-gc", "dist/src/server.js"]
