# syntax=docker/dockerfile:1
# Chatr: one static binary (the browser app and its npm libraries embedded)
# on a distroless base, run as a non-root user.
#
#   docker build -t chatr .
#   docker run -p 8080:8080 -v chatr-data:/data chatr

# The browser libraries are committed in web/lib/ (make web-vendor): no npm here.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/chatr ./cmd/chatr \
 && mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chatr /usr/local/bin/chatr
# The SQLite file (single node) and a generated secret live in /data.
COPY --from=build --chown=nonroot:nonroot /out/data /data
WORKDIR /data
USER nonroot:nonroot
ENV CHATR_ADDR=:8080 \
    CHATR_DB=/data/chatr.db
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["/usr/local/bin/chatr"]
