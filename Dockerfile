# refund-relay image: the relay (`start`, the default command) and every other subcommand, including
# the Dojo simulator (`dojo-sim`). Node runs the TypeScript sources directly (type stripping), so there
# is no build step: the first stage installs the production dependencies, the second copies them next
# to the sources and runs as the unprivileged `node` user (uid 1000) of the Node.js image.
#
#   docker build -t refund-relay .
#   docker run --rm -p 8080:8080 -e KAFKA_BROKERS=... -e DOJO_API_KEY_FILE=/run/secrets/dojo refund-relay
#
# The Node.js minor version is the one CI tests with (scripts/node.sh); the tag still takes patch releases.

FROM node:24.21-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional as well: the only optional packages are TypeScript (an optional peer of a dependency,
# which npm would otherwise install because it is also a dev dependency here: a third of node_modules)
# and pg's Cloudflare Workers socket, neither used by Node.js at run time.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund

FROM node:24.21-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HTTP_PORT=8080
WORKDIR /app
# npm and corepack are not needed to run the relay: removing them keeps the image smaller and drops
# their dependencies from what a scanner reports. /app/data is where the default SQLite ledger lives
# (LEDGER_URL=sqlite:./data/refund-relay.db); mount a volume there to keep it, or use PostgreSQL.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    && mkdir -p /app/data \
    && chown node:node /app/data
# Code and dependencies stay owned by root: the relay can read them but not change them.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY consumers ./consumers
COPY schemas ./schemas
USER node
EXPOSE 8080
# Liveness only (/healthz): a relay that cannot reach its broker or ledger is alive, and restarting it
# would not help; /readyz is for load balancers and orchestrators that route or roll out.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/refund-relay.js"]
CMD ["start"]
