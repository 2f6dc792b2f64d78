# hlsd container image: multi-stage, Debian 12 (its ffmpeg 5.1 is the
# release hlsd is tested with), non-root, data in the /data volume.
#
#   docker build -t hlsd --build-arg REVISION=$(git rev-parse HEAD) .
#   docker run -p 8080:8080 -v hlsd-data:/data hlsd
#
# The build stage runs `make build`, the same target as a checkout: it
# copies the web UI's libraries with npm, then builds bin/hlsd. No
# container engine runs on hlsd's test machines: cmd/hlsd/packaging_test.go
# checks this file statically against the Makefile and serve's defaults.

FROM golang:1.26-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY web/package.json web/package-lock.json web/
RUN cd web && npm ci --no-audit --no-fund --loglevel=error
COPY . .
ARG VERSION=
ARG REVISION=
ARG BUILDDATE=
RUN make build VERSION="$VERSION" REVISION="$REVISION" BUILDDATE="$BUILDDATE" GOFLAGS=-buildvcs=false

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin hlsd \
 && mkdir -p /data \
 && chown hlsd:hlsd /data
COPY --from=build /src/bin/hlsd /usr/local/bin/hlsd
USER hlsd
WORKDIR /data
VOLUME /data
EXPOSE 8080
# /healthz is cheap and needs no token.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/hlsd"]
CMD ["serve", "--data", "/data"]
