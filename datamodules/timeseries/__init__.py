"""DataModules of time series."""

from datamodules.timeseries.csv_series import SeriesDataModule, WindowSeriesDataModule, read_series
from datamodules.timeseries.weather import WeatherDataModule

__all__ = ["SeriesDataModule", "WeatherDataModule", "WindowSeriesDataModule", "read_series"]
