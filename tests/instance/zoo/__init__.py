"""A small model library written the way real ones are: factories in a subpackage, layers chosen by
name, containers built at run time, config objects.  Its source cannot be translated as written;
the built model can (translator.instance)."""
