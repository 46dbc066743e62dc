"use strict";
// Below 1500 px the admin's navigation sidebar starts folded, so that the incident list has
// the width it needs (docs/console.md, "Narrow screens"). Django's nav_sidebar.js reads the
// choice from localStorage when the page has loaded, so this runs before it, in <head>.
// A choice made with the sidebar's toggle is kept as Django keeps it; a fold made here is
// undone on a wider screen.
(function () {
    const OPEN = "django.admin.navSidebarIsOpen";
    const FOLDED_HERE = "console.navSidebarFoldedForWidth";
    const NARROW = 1500;
    try {
        const narrow = window.innerWidth < NARROW;
        if (localStorage.getItem(OPEN) === null && narrow) {
            localStorage.setItem(OPEN, "false");
            localStorage.setItem(FOLDED_HERE, "true");
        } else if (localStorage.getItem(FOLDED_HERE) === "true" && !narrow) {
            localStorage.removeItem(OPEN);
            localStorage.removeItem(FOLDED_HERE);
        }
    } catch (error) {
        return; // storage disabled: Django's default (open) applies
    }
    document.addEventListener("click", function (event) {
        if (event.target.closest && event.target.closest("#toggle-nav-sidebar")) {
            localStorage.removeItem(FOLDED_HERE); // the operator's own choice from now on
        }
    });
}());
