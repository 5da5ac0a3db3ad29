# Yiju's image: every `yiju` command (migrate, broker bootstrap, ingest, later the API).
# Build: docker build -t yiju .   Run: docker run --rm yiju --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The runtime deps are all binary wheels, so no compiler is needed; the source is only
# needed to build the wheel and is removed afterwards (.dockerignore keeps tests and caches out).
COPY . /src
RUN pip install /src && rm -rf /src

# An unprivileged account with a home, where matplotlib can keep its cache.
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin yiju
USER yiju
WORKDIR /home/yiju

ENTRYPOINT ["yiju"]
CMD ["--help"]
