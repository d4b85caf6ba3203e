"""Exception classes and things that are not, for check_exception_classes.graph: read by `ast`, never run."""

class Good(ValueError):
    pass

class Deeper(Good):
    pass

class NotOne:
    pass

class Str(str):
    pass

def func() -> None:
    pass

from elsewhere import Base
class Unknown(Base):  # a base read from elsewhere: cannot be told
    pass
