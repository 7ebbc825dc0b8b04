# Medwallet. `make run` starts the desktop app, `make test` runs every test.
# Both first install what a fresh Debian/Ubuntu machine lacks.

GO      ?= go
BIN     := bin
# Fyne's cgo build needs these; the smoke test and the export tests need the rest.
# (openssh-client: the litewitness test keeps the witness key in an ssh-agent.)
FYNE_PKGS := libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev \
             libxi-dev libxxf86vm-dev libxkbcommon-dev libwayland-dev pkg-config gcc
TEST_PKGS := xvfb xdotool x11-utils imagemagick poppler-utils age iproute2 postgresql openssh-client
BENCHTIME ?= 1x

.PHONY: run test bench build deps deps-build deps-test smoke package fuzz clean node

run: deps-build build
	$(BIN)/medwallet

build: $(BIN)/medwallet $(BIN)/medwallet-node

$(BIN)/medwallet: FORCE
	$(GO) build -o $@ .

$(BIN)/medwallet-node: FORCE
	CGO_ENABLED=0 $(GO) build -o $@ ./cmd/medwallet-node

FORCE:

# deps installs missing Debian packages (as root, or through sudo).
deps: deps-build deps-test
deps-build:
	@scripts/apt-install.sh $(FYNE_PKGS)
deps-test:
	@scripts/apt-install.sh $(TEST_PKGS)
	@scripts/pg-test-user.sh

# RACE_PKGS run under the race detector (it needs cgo): the packages where
# goroutines share state (the session and its peer, the control socket, the
# screens' background work). Everything else builds and tests without cgo,
# in the time CI has (README, "How it is built", gives the measurements).
RACE_PKGS := ./app/ ./app/cli/ ./app/peer/ ./ui/...

# The smoke test runs the real binary under Xvfb.
test: deps build
	CGO_ENABLED=0 $(GO) vet ./wallet/... ./app/... ./cmd/...
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 20m ./wallet/... ./app/node/... ./cmd/... ./assets/...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 40m $(RACE_PKGS)
	scripts/mdns-netns.sh
	scripts/smoke.sh $(BIN)/medwallet

smoke: deps build
	scripts/smoke.sh $(BIN)/medwallet

bench: deps
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -timeout 60m ./wallet/... ./app/...
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./ui/...

# fuzz runs every fuzz target briefly.
fuzz:
	scripts/fuzz.sh 15s

package: deps-build
	$(GO) tool fyne package --target linux --source-dir . --name Medwallet --icon assets/icon.png --release

clean:
	rm -rf $(BIN) *.tar.xz
