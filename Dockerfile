# A Linux to follow the chapters in, for macOS and Windows (the runtime is built on epoll,
# eventfd and timerfd, which only Linux has): Debian 12 with what ./tutor needs. The project
# itself is not copied in; it is mounted, so your edits stay on your machine. docs/setup.md:
#
#   docker build -t async-runtime-tutorial .
#   docker run --rm -it -v "$PWD":/work -w /work async-runtime-tutorial ./tutor
#
# VS Code's Dev Containers extension uses it through .devcontainer/devcontainer.json.
FROM debian:bookworm

ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        g++ meson ninja-build pkg-config doctest-dev libcli11-dev \
        git ca-certificates gdb valgrind clangd-16 less \
    && rm -rf /var/lib/apt/lists/*

# A mounted folder belongs to another user than the container's: let git work in it.
RUN git config --system --add safe.directory '*'

CMD ["bash"]
