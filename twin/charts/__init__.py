"""The Akri Helm charts: catalogue, default values, CRDs and the templates Helm renders."""
