// Finding widgets in a window, as the window test and tools/screenshots.c (the screenshot
// maker) both do: depth first, the first widget a match function accepts.
#pragma once

#include <gtk/gtk.h>

typedef gboolean (*UiTestWidgetMatch)(GtkWidget *widget, gconstpointer data);

// ROOT itself or its first descendant that MATCH accepts with DATA; NULL when none does.
GtkWidget *ui_test_find_widget(GtkWidget *root, UiTestWidgetMatch match, gconstpointer data);

// Matches: a widget of the type named DATA ("PonderChatView"); a GtkLabel showing DATA.
gboolean ui_test_is_type_named(GtkWidget *widget, gconstpointer name);
gboolean ui_test_is_label_with_text(GtkWidget *widget, gconstpointer text);
