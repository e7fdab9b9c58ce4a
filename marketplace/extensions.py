"""Flask extensions, created unbound and initialised in the app factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from marketplace.api import MarketplaceApi


class Base(DeclarativeBase):
    """Declarative base for every model."""


db = SQLAlchemy(model_class=Base)
# Models subclass ``Model``: Flask-SQLAlchemy's ``db.Model`` at run time, typed as the
# declarative base it is built on, so type checkers see the mapped classes as they are.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
csrf = CSRFProtect()
api = MarketplaceApi()
