"""Device simulators: speak contract v1 as real devices do (imports only core.contract)."""
