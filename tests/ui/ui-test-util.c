#include "ui-test-util.h"

GtkWidget *ui_test_find_widget(GtkWidget *root, UiTestWidgetMatch match, gconstpointer data)
{
    if (match(root, data))
        return root;
    for (GtkWidget *child = gtk_widget_get_first_child(root); child;
         child = gtk_widget_get_next_sibling(child)) {
        GtkWidget *found = ui_test_find_widget(child, match, data);
        if (found)
            return found;
    }
    return NULL;
}

gboolean ui_test_is_type_named(GtkWidget *widget, gconstpointer name)
{
    return g_str_equal(G_OBJECT_TYPE_NAME(widget), name);
}

gboolean ui_test_is_label_with_text(GtkWidget *widget, gconstpointer text)
{
    return GTK_IS_LABEL(widget) && g_strcmp0(gtk_label_get_text(GTK_LABEL(widget)), text) == 0;
}
