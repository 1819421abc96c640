// Shared by every Ponder compute shader.

// Flattens a 2-D dispatch (rows beyond 65535 workgroups go into y).
uint flat_group_id()
{
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}
