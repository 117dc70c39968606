"""Datasets: every run this server offers (the demo, the runs opened lately, those under the data folder and
the published ones), each opened with one click. The page's parts live in :mod:`ttv_core.app.datasets`."""

from ttv_core.app import datasets
from ttv_core.app.settings import ServerSettings

datasets.show(ServerSettings.current())
