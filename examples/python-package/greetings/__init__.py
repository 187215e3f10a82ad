from .words import greet
