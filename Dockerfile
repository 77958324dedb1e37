# syntax=docker/dockerfile:1
# One image for the API, the worker and the simulator; the command picks which.
# The code is TypeScript run by tsx (a runtime dependency of services/api and services/worker).

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 falls back to compiling when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:20-bookworm-slim
# HOST: the API must listen on the container's interfaces to be published. The worker binds its
# /metrics to HOST too: docker-compose.yml keeps it on the container's loopback unless asked,
# and SPOOL_METRICS_KEY puts every /metrics behind a bearer key.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    SPOOL_METRICS_PORT=9464
WORKDIR /app
# Root owns the code; the unprivileged user can write only its data directory (SQLite store).
COPY --from=build /app /app
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# api (default) | worker: services/worker/src/main.ts | simulator: packages/simulator/src/main.ts
CMD ["node", "--import", "tsx", "services/api/src/main.ts"]
