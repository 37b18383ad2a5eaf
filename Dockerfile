# The Propylon controller image: `propylon controller` (Kubernetes mode).
# Build: docker build -t propylon/controller:0.1.0 .
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 65532:65532
EXPOSE 18000 8080
ENTRYPOINT ["propylon"]
CMD ["controller"]
