# A Debian 12 test host for the Ansible roles: the base image plus Python, which Ansible's modules
# need on a managed host. Nothing else: the roles install what they need themselves.
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 >/dev/null \
 && rm -rf /var/lib/apt/lists/*
CMD ["sleep", "infinity"]
