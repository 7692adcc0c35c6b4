# The gatehouse container image: one static binary on an empty base, run as
# an unprivileged user, its data in the volume /data.
#
#   docker build -t gatehouse --build-arg VERSION=v1.2.3 .
#   docker run -d -p 8080:8080 -v gatehouse-data:/data gatehouse
#
# The build stage only runs release/rootfs.sh, which CI also runs on its own
# machine to build the final stage with buildah (.ci/run, "container image").

FROM golang:1.27-bookworm AS build
# The Go of CI and release/build.sh (go.mod's toolchain line), whatever
# patch release the tag points at: the go command fetches it from the
# module proxy. The image sets GOTOOLCHAIN=local, which would ignore it.
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN VERSION="$VERSION" release/rootfs.sh /out

FROM scratch
COPY --from=build /out/rootfs/ /
COPY --from=build --chown=65532:65532 /out/data/ /data/
ENV GATEHOUSE_DATA_DIR=/data \
    GATEHOUSE_ADDR=0.0.0.0:8080
USER 65532:65532
WORKDIR /data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/gatehouse", "healthcheck"]
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
