"""The Akri video streaming app: its cameras and feeds, served over real HTTP."""
