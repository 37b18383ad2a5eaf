# The Propylon controller image: `propylon controller` (Kubernetes mode) and the proxies'
# shutdown manager. No Envoy: the proxies run the Envoy image (--envoy-image).
# Build: docker build -t propylon/controller:0.1.0 .
# Dependencies are pinned by requirements/controller.lock (`make controller-lock` renews it).
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/controller.lock ./requirements/
COPY src ./src
RUN pip wheel --no-cache-dir --constraint requirements/controller.lock --wheel-dir /wheels .

FROM python:3.12-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
USER 65532:65532
EXPOSE 18000 8080
ENTRYPOINT ["propylon"]
CMD ["controller"]
