# The two commands of README.md, and the rest of the developer loop.
#   make demo    the main job on real input (no server needed)
#   make test    build and run every test twice: normal and ASan+UBSan
#   make readme  rewrite the input tables of README.md and docs/inputs.md from task-manifests/
SHELL := /bin/bash
DEMO_ROOT ?= /usr/share/doc

.PHONY: deps build release test test-dev test-asan demo bench readme format format-check clean

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev

release: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release

test: deps
	@$(MAKE) --no-print-directory test-dev test-asan

test-dev:
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev
	@ctest --preset dev

test-asan:
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	@ctest --preset asan

demo: release
	@scripts/demo.sh "$(DEMO_ROOT)"

bench: release
	@scripts/install-deps.sh bench
	@bench/generate-metadata.sh
	@bench/download-artifact.sh
	@bench/incremental.sh
	@bench/zip.sh
	@bench/serve.sh
	@bench/batch.sh

readme:
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev --target manifest-compiler
	@scripts/readme-inputs.sh

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

# Fails (and names the files) when a source file is not formatted as .clang-format says.
format-check: deps
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror

clean:
	rm -rf build
