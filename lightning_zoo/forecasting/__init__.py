from lightning_zoo.forecasting.base import Forecaster
from lightning_zoo.forecasting.conv_recurrent import ConvRecurrentForecaster, ConvRecurrentNetwork
from lightning_zoo.forecasting.naive import NaiveForecaster
from lightning_zoo.forecasting.recurrent_forecaster import RecurrentForecaster, RecurrentForecastNetwork

__all__ = [
    "ConvRecurrentForecaster",
    "ConvRecurrentNetwork",
    "Forecaster",
    "NaiveForecaster",
    "RecurrentForecastNetwork",
    "RecurrentForecaster",
]
