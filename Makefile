# Bulkhead — the entry point. Everything installs itself under .tools/ (gitignored).
#   make up      install what is missing, build, start infra + every service (BULKHEAD_CELL_COUNT cells, default 2), print URLs
#   make down    stop everything (data kept under .data/)
#   make test    run every test suite (starts what it needs, stops what it started)
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/.tools/bin:$(PATH)
export npm_config_update_notifier := false

.PHONY: help toolchain deps generate build up down status test lint format typecheck clean

help:
	@echo "make up | down | status | test | build | lint | typecheck | format | clean"

toolchain:
	@bash infra/local/toolchain.sh

deps: toolchain
	@echo "[bulkhead] installing npm dependencies (pnpm, frozen lockfile)"
	@pnpm install --frozen-lockfile --prefer-offline --reporter=silent

generate: deps
	@echo "[bulkhead] generating TypeScript from proto/ (buf + ts-proto)"
	@pnpm --silent --filter @bulkhead/contracts generate

build: generate
	@echo "[bulkhead] compiling (tsc -b)"
	@pnpm exec tsc -b

up: build
	@bash infra/local/infra.sh start
	@bash infra/local/services.sh start

down:
	@bash infra/local/services.sh stop
	@bash infra/local/infra.sh stop

status:
	@bash infra/local/infra.sh status

test:
	@bash infra/local/test.sh

lint: deps
	@pnpm exec eslint .
	@pnpm exec prettier --check .

typecheck: build
	@pnpm exec tsc -p tsconfig.test.json

format: deps
	@pnpm exec prettier --write .

clean:
	rm -rf packages/*/dist services/*/dist packages/*/tsconfig.tsbuildinfo services/*/tsconfig.tsbuildinfo packages/contracts/src/gen
