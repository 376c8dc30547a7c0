# shellcheck shell=bash disable=SC2034 # sourced: the variables are used by node-image.sh
# Every version the offline node image is built from, in one place (sourced).
# The image's cache label hashes this file, so a change here rebuilds the image.

KUBERNETES_VERSION=v1.34.4 # kubelet >= 1.35 refuses cgroup v1 hosts: stay on 1.34
# Staging modules served on the Go proxy at another patch than ${KUBERNETES_VERSION/v1/v0}:
# only these (go list -m -versions k8s.io/X); the code is the same API line.
KUBE_STAGING_OVERRIDES="kube-proxy=v0.34.2 cli-runtime=v0.34.2 code-generator=v0.34.2 sample-apiserver=v0.34.2"
# Staging modules not served at all: replaced by empty local stubs (no command imports them).
KUBE_STAGING_STUBS="sample-cli-plugin sample-controller"

KIND_VERSION=v0.33.0         # matches infra/kind/tools.sh; its module zip carries the node files
ETCD_VERSION=v3.6.16         # built from go.etcd.io/etcd/server/v3 ...
ETCD_TAG=3.6.5-0             # ... and tagged as the etcd image kubeadm v1.34 asks for
COREDNS_VERSION=v1.14.3      # v1.12.1 (kubeadm's) is not served ...
COREDNS_TAG=v1.12.1          # ... so v1.14.3 carries that tag
PAUSE_TAG=3.10.1             # the sandbox image kubeadm/containerd expect
LOCAL_PATH_VERSION=v0.0.30   # rancher/local-path-provisioner: the `standard` StorageClass
DEBIAN_SUITE=bookworm
KUBE_NETWORK_POLICIES_VERSION=v0.8.0 # NetworkPolicy enforcement (nftables + NFQUEUE), as in kindnet
