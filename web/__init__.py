"""The web app's sources as package data: `goap demo` copies them into its workspace.

A regular package (not a namespace one), so importlib.resources can read it in every install.
"""
