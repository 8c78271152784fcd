"""The one exception hierarchy for problems a user can fix.

The CLI prints the message of any :class:`VisionbenchError` on one line and
exits with status 2; any other exception is a bug and keeps its traceback.
Messages name the file, sample, option or spec at fault.
"""

from __future__ import annotations


class VisionbenchError(Exception):
    """Base class: a problem in the user's input, configuration or environment."""


class ConfigError(VisionbenchError):
    """A bad option, spec string, or combination of options."""


class SpecError(ConfigError):
    """A model or task spec that names nothing known."""


class DataError(VisionbenchError):
    """A dataset, annotation or prediction file that is missing or malformed."""


class ModelError(VisionbenchError):
    """A model that cannot be loaded or whose outputs do not fit the task."""


class LabelMapError(ModelError):
    """The model's label space and the dataset's classes do not line up."""


class TrackingError(VisionbenchError):
    """The tracking store cannot be reached or written."""


class ModelOptionError(ConfigError, ModelError):
    """A ``--model-arg`` the model's loader does not accept, or a value it cannot use."""
