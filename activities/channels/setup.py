"""From the channel file to working channels: read it, load the templates it needs, build.

Called by the entry points with the file's path, the definitions folder and the environment;
every problem is raised before the worker takes any work.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from activities.template_checks import load_checked_templates
from activities.templates import Renderer
from process.loader import load_catalog

from .config import ChannelConfigError, ChannelSetup, ChannelsFile, build_channels, parse_channels

TEMPLATES_FOLDER = "templates"
"""Beside the definitions: designers edit both."""


def read_channels(path: Path) -> ChannelsFile:
    """The channel file, validated; raises ChannelConfigError with every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ChannelConfigError([f"{path}: cannot read the channel file: {error}"]) from None
    return parse_channels(text, path.name)


def load_channel_setup(
    path: Path, definitions_dir: Path, environ: Mapping[str, str]
) -> ChannelSetup:
    """Channels as ``path`` configures them; raises ChannelConfigError, TemplateProblems or
    DefinitionError with every problem found."""
    config = read_channels(path)
    renderer = None
    if config.needs_templates:
        definitions = load_catalog(definitions_dir).definitions
        catalog = load_checked_templates(definitions_dir / TEMPLATES_FOLDER, definitions)
        renderer = Renderer(catalog, definitions)
    return build_channels(config, environ, renderer)
