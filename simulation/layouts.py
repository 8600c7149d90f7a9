"""The dataset layouts `lidarsim generate` writes (a light module: the CLI builds its parser from it
without importing the ray caster)."""

LAYOUTS = ("kitti-raw", "kitti-object", "squeezeseg")
