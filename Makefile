# edge-sensor: `make demo` and `make test` do all set-up themselves on Debian 12 (as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3 python3-venv python3-dev gcc openssl mosquitto mosquitto-clients snmpd snmp chromium \
	lldpd softflowd openssh-server tcpdump iproute2 iputils-ping procps systemd nftables \
	debootstrap qemu-utils fdisk dosfstools mtools e2fsprogs zstd systemd-boot-efi qemu-system-x86 ovmf
# Only for `make image-test` (the Raspberry Pi image: arm64 through qemu-user, booted under qemu -M virt).
PI_PACKAGES := qemu-user-static binfmt-support qemu-system-arm
STAMP := $(VENV)/.installed

.PHONY: all setup apt test lint pytest demo bench image-test clean lock

all: test

# Debian packages, installed only when missing (apt-get needs root).
apt:
	@missing=$$(for p in $(APT_PACKAGES) $(EXTRA_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root (or install: $$missing)" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@# The Debian packages start system-wide daemons we do not want; our tests start their own.
	@for s in mosquitto snmpd lldpd; do systemctl disable --now $$s >/dev/null 2>&1 || true; done

$(STAMP): pyproject.toml constraints.txt
	$(MAKE) apt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(VENV)/bin/ruff check sensor collectors tests bench
	$(VENV)/bin/mypy --strict sensor collectors

pytest: setup
	$(VENV)/bin/pytest -q

test: lint pytest

demo: setup
	lab/demo

# Both appliance images built and booted under qemu (`make test` boots the VM image only).
image-test: setup
	$(MAKE) apt EXTRA_PACKAGES="$(PI_PACKAGES)"
	EDGE_IMAGE_TEST=vm,pi $(VENV)/bin/pytest -q tests/appliance

# Benchmarks measure and print; they never fail a build on timing.
bench: setup
	$(PY) bench/publish.py
	$(PY) bench/correlate.py
	$(PY) bench/flows.py
	$(PY) bench/snmp_poll.py
	$(PY) bench/snmp_decode.py
	$(PY) bench/agent.py --measure
	$(PY) bench/campus.py
	lab/up >/dev/null && { $(PY) bench/snmp_walk.py --lab; rc=$$?; lab/down >/dev/null; exit $$rc; }

# Pin what the venv has now (run after changing dependencies in pyproject.toml).
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
