"""gettext catalogs (messages.pot and <locale>/LC_MESSAGES/messages.po), built with Babel."""
