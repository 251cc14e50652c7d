{
  "targets": [
    {
      "target_name": "probe_engine",
      "sources": ["native/probe-engine.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
