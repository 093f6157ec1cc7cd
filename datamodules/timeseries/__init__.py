"""DataModules of time series."""

from datamodules.timeseries.csv_series import SeriesDataModule, WindowSeriesDataModule, read_series

__all__ = ["SeriesDataModule", "WindowSeriesDataModule", "read_series"]
