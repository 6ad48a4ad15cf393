# Multi-stage build: a static, CGO-free binary on a minimal base, run as a
# non-root user. Build: docker build -t preflight .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/preflight . && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/preflight /usr/local/bin/preflight
# The data directory: the embedded store (jobs, keys, the suppression list)
# and the first key, preflight.key. Keep it on a volume (docker run -v).
COPY --from=build --chown=nonroot:nonroot /out/data /data
VOLUME ["/data"]
ENV PREFLIGHT_STORE_URL=sqlite:///data/preflight.db
USER nonroot:nonroot
WORKDIR /data
EXPOSE 8080
# distroless has no shell and no curl: the binary checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["/usr/local/bin/preflight", "health"]
ENTRYPOINT ["/usr/local/bin/preflight"]
CMD ["serve"]
