"""The compiled core: an optional C extension (everything else is in pyproject.toml).

``optional=True``: where no C compiler works, the build warns and the install goes on
without it, and the planner searches in pure Python (the same plans, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "goap.planning._core",
            ["goap/planning/_core.c"],
            # the same floating-point operations as Python: no fused multiply-adds
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
