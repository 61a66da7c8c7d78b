"""The Kubernetes API server: REST over TLS, the object store and kube-apiserver's semantics."""
