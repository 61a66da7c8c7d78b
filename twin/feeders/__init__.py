"""The camera feeders: real gst-launch-1.0 processes whose v4l2sink the twin redirects."""
