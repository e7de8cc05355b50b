"""The browser consoles: pages for agents and supervisors, served with sign-in sessions."""
