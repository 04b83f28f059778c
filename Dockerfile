# syntax=docker/dockerfile:1
# One image for the API and every worker; docker-compose.yml picks the entry point with `command`.
# Nothing secret is copied in: configuration, users and kubeconfigs are mounted at run time
# (see docs/deployment.md), and .dockerignore keeps deploy/secrets/ and .env out of the context.

# Pin this by digest (node:20-bookworm-slim@sha256:...) when you promote an image to production.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so this layer is reused until package.json or the lock file changes.
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# The application files stay owned by root, so the process cannot modify its own code.
USER node
EXPOSE 3000
CMD ["node", "dist/api/server.js"]
