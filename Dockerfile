# The RestKube image: /manager (the operator), /dbserver and a CA bundle, FROM scratch, running as
# uid 65532. `make image` writes the same layout without a container engine (hack/image).
#   docker build --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse --short HEAD) \
#     --build-arg IMAGE=restkube/restkube:v0.1.0 -t restkube/restkube:v0.1.0 .

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
# Dependencies first, so a source change does not download modules again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
RUN LDFLAGS="-s -w -X github.com/restkube/restkube/internal/version.Version=${VERSION} -X github.com/restkube/restkube/internal/version.Commit=${COMMIT}" && \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "${LDFLAGS}" -o /out/manager . && \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "${LDFLAGS}" -o /out/dbserver ./dbserver

FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
# The operator gives its own image to the databases' pods (they run /dbserver from it).
ARG IMAGE=restkube/restkube:${VERSION}
LABEL org.opencontainers.image.title="restkube" \
      org.opencontainers.image.description="RestKube operator (/manager) and dbserver (/dbserver)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.source="https://github.com/restkube/restkube" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build --chmod=0644 /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chmod=0755 /out/manager /out/dbserver /
ENV DBSERVER_IMAGE=${IMAGE}
USER 65532:65532
WORKDIR /
ENTRYPOINT ["/manager"]
