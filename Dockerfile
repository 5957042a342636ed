# abuse-scan worker image. Build: docker build -t abuse-scan .
# Run:   docker run --rm -e REDIS_URL=redis://redis:6379 -e ABUSE_SCAN_METRICS_PORT=9464 abuse-scan worker --queues links,images
#
# Both stages build on one exact Node 24 LTS release (on Debian bookworm), so a rebuild gets the
# Node the image was tested with, not whatever the floating `node:24-bookworm-slim` points at that
# day. A tag can still be re-pushed (Debian security updates under the same Node version): for
# production builds pin the digest too, as the tag's index digest (multi-platform), looked up with
# `docker buildx imagetools inspect node:24.11.1-bookworm-slim`:
#   docker build --build-arg NODE_IMAGE=node:24.11.1-bookworm-slim@sha256:<digest> -t abuse-scan .
# Bump the Node version here, in one place, for both stages.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# .npmrc: no install scripts (onnxruntime-node's would download GPU libraries; the CPU runtime ships in the package).
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
# onnxruntime-node ships its native runtime for every platform it supports
# (bin/napi-v<N>/<platform>/<arch>: darwin/arm64, linux/arm64, linux/x64, win32/arm64, win32/x64)
# and loads bin/napi-v<N>/<process.platform>/<process.arch>. Only the image's own is kept: this
# stage runs on the image's platform (no --platform=$BUILDPLATFORM), so node reports it, named as
# the directories are (linux/x64 for TARGETARCH amd64, linux/arm64 for arm64); the others (~243 MB)
# could never load. The build fails if the image's one is missing.
RUN npm run build && npm prune --omit=dev \
 && keep="$(node -p 'process.platform + "/" + process.arch')" \
 && cd node_modules/onnxruntime-node/bin \
 && ls napi-v*/"$keep"/onnxruntime_binding.node >/dev/null \
 && for dir in napi-v*/*/*/; do case "$dir" in napi-v*/"$keep"/) ;; *) rm -rf "$dir" ;; esac; done \
 && find . -mindepth 1 -type d -empty -delete

FROM ${NODE_IMAGE}
WORKDIR /app
# GLIBC_TUNABLES: glibc asks for transparent huge pages for its large allocations (the kernel's
# THP in `madvise` mode), among them the hash-set indexes' arrays: ~+18% queries/s at 10M entries.
# UV_THREADPOOL_SIZE: image decodes (sharp) and file reads share libuv's threadpool, 4 threads by
# default. Decodes take at most min(cores, threads - 1) of them (src/images/decode-limiter.ts); the
# rest keep file reads from waiting behind decodes. (The unfurler's name lookups use c-ares, off the pool.)
ENV NODE_ENV=production \
    ABUSE_SCAN_METRICS_PORT=9464 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 \
    UV_THREADPOOL_SIZE=16
# tini as PID 1 forwards signals to node: node as PID 1 ignores a SIGTERM that arrives before the
# worker has installed its handlers (while it is still loading), and would then start taking jobs.
# Pinned to bookworm's build (source 0.19.0-1, binary rebuild +b3, on amd64 and arm64 alike). Debian
# keeps only the current version of a package in the archive: should bookworm ever ship another
# tini, this install fails until the pin is moved to it (apt-cache policy tini in the base image).
RUN apt-get update && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 && rm -rf /var/lib/apt/lists/*
# A layer is rebuilt and pushed again whenever one before it changes: the models (about 10 MB,
# changed only by a models rebuild) go first, ahead of the dependencies (changed by every bump)
# and the compiled code (changed by every commit).
COPY models ./models
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json LICENSE ./
COPY bin ./bin
USER node
EXPOSE 9464
# The check is liveness: /livez answers 200 whenever the process and its event loop are alive,
# from the start (before Redis is reached) through a Redis outage and a drain, so an orchestrator
# that restarts unhealthy containers restarts only a hung process, never a whole fleet waiting for
# Redis. Readiness (taking jobs, Redis answering) is /healthz, 503 while starting, draining or cut
# off from Redis: point load balancers and Kubernetes' readinessProbe there, not this check.
# The check reads the port from ABUSE_SCAN_METRICS_PORT only: to serve another port, set that
# variable (docker run -e ABUSE_SCAN_METRICS_PORT=9500), not `worker --metrics-port 9500`: the
# worker would listen there while the check still asks 9464 and reports the container unhealthy.
# Unset or empty, the worker serves no /livez and the check fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:' + process.env.ABUSE_SCAN_METRICS_PORT + '/livez').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# SIGTERM (docker stop) drains in-flight jobs for up to ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS (60 s by
# default), then gives them up and exits 75: docker stop -t 70.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/abuse-scan.js"]
CMD ["worker"]
