from lightning_zoo.forecasting.base import Forecaster
from lightning_zoo.forecasting.recurrent_forecaster import RecurrentForecaster, RecurrentForecastNetwork

__all__ = ["Forecaster", "RecurrentForecastNetwork", "RecurrentForecaster"]
