# Multi-stage build: a static, CGO-free binary on a minimal base, run as a
# non-root user. Build: docker build -t preflight .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/preflight .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/preflight /usr/local/bin/preflight
USER nonroot:nonroot
WORKDIR /home/nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/preflight"]
CMD ["serve"]
